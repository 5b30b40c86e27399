"""Process-wide defaults (set through the functions in ``vkgrad``)."""
default_dtype = "f32"
default_device = "auto"
# Recording of the autograd graph; toggled by no_grad()/grad_tape().
grad_enabled = True
# backward() reads the loss and raises on NaN/inf.  On Vulkan that read is a
# host sync per step; turn it off (vkgrad.set_check_finite(False)) for speed.
check_finite_loss = True
# Inside vkgrad.autocast(dtype): matmul/linear run in this dtype, losses in f32.
autocast = None
# Anomaly mode (autograd.detect_anomaly): each recorded node keeps where it was
# made, and backward reads every gradient back to find the first NaN (check_nan).
detect_anomaly = False
anomaly_check_nan = True
# Tensor printing (vkgrad.set_printoptions): PyTorch's defaults.
print_options = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
