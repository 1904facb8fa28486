// The EfficientNetB3 model is generated from Specs/EfficientNetB3.effnet by EffNetGeneratorPlugin.
