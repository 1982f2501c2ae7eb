"""Label noise of the ActiSeg-NL benchmark: text prompt noise (Alg. 1) and mask annotation noise (Alg. 2)."""
