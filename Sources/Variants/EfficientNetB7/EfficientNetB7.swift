// The EfficientNetB7 model is generated from Specs/EfficientNetB7.effnet by EffNetGeneratorPlugin.
