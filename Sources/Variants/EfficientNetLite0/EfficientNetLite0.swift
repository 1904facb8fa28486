// The EfficientNetLite0 model is generated from Specs/EfficientNetLite0.effnet by EffNetGeneratorPlugin.
