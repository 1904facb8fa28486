// The EfficientNetTiny model is generated from Specs/EfficientNetTiny.effnet by EffNetGeneratorPlugin.
