// The EfficientNetLite0Digits model is generated from Specs/EfficientNetLite0Digits.effnet by EffNetGeneratorPlugin.
