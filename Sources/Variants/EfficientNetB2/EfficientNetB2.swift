// The EfficientNetB2 model is generated from Specs/EfficientNetB2.effnet by EffNetGeneratorPlugin.
