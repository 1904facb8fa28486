// The EfficientNetL2 model is generated from Specs/EfficientNetL2.effnet by EffNetGeneratorPlugin.
