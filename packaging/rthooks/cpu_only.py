# Runtime hook of the CPU variant (DMTL_STUDIO_CPU_ONLY=1 make package): it lacks the libraries torch loads
# only to compute on an NVIDIA GPU (cuDNN's engines, ...), so no GPU may be offered to torch.
import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
