/// Kernel namespace. The generated model code calls these with every size as a literal.
public enum Kernels {}
