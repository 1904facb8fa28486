// The EfficientNetTinyLite model is generated from Specs/EfficientNetTinyLite.effnet by EffNetGeneratorPlugin.
