// The EfficientNetLite1 model is generated from Specs/EfficientNetLite1.effnet by EffNetGeneratorPlugin.
