// The EfficientNetB6 model is generated from Specs/EfficientNetB6.effnet by EffNetGeneratorPlugin.
