// The EfficientNetLite3 model is generated from Specs/EfficientNetLite3.effnet by EffNetGeneratorPlugin.
