// Op ids: the order of UNARY_OPS / BINARY_OPS in vkgrad/backends/base.py
// (tests/test_vulkan.py checks that they agree).
#define U_NEG 0u
#define U_EXP 1u
#define U_LOG 2u
#define U_SQRT 3u
#define U_RELU 4u
#define U_SIGMOID 5u
#define U_TANH 6u
#define U_GELU 7u
#define U_GELU_TANH 8u
#define U_AFFINE 9u
#define U_POW 10u
#define U_CLAMP 11u
#define U_CLIP_COEF 12u
#define U_FILL 13u

#define B_ADD 0u
#define B_SUB 1u
#define B_MUL 2u
#define B_DIV 3u
#define B_EQ 4u
#define B_RELU_BWD 5u
#define B_SIGMOID_BWD 6u
#define B_TANH_BWD 7u
#define B_GELU_BWD 8u
#define B_GELU_TANH_BWD 9u
#define B_POW_BWD 10u
#define B_CLAMP_BWD 11u
#define B_MAXIMUM 12u
#define B_MINIMUM 13u
#define B_GT 14u
#define B_GE 15u
