// The EfficientNetB4 model is generated from Specs/EfficientNetB4.effnet by EffNetGeneratorPlugin.
