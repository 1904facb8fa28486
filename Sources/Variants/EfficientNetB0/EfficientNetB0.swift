// The EfficientNetB0 model is generated from Specs/EfficientNetB0.effnet by EffNetGeneratorPlugin.
