// The EfficientNetLite4 model is generated from Specs/EfficientNetLite4.effnet by EffNetGeneratorPlugin.
