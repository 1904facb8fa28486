// The EfficientNetLite2 model is generated from Specs/EfficientNetLite2.effnet by EffNetGeneratorPlugin.
