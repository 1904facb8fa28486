// The EfficientNetB1 model is generated from Specs/EfficientNetB1.effnet by EffNetGeneratorPlugin.
