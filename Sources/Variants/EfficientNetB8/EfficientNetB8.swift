// The EfficientNetB8 model is generated from Specs/EfficientNetB8.effnet by EffNetGeneratorPlugin.
