// The EfficientNetB5 model is generated from Specs/EfficientNetB5.effnet by EffNetGeneratorPlugin.
