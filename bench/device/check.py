#!/usr/bin/env python3
"""The device side of ReasonSharp's golden-output check (bench/device/README.md).

    python3 bench/device/check.py PREPARED OUT [--devices cpu,cuda] [--attn eager,sdpa]

PREPARED is the folder `device-prepare` wrote (manifest.json, models/, chat/, tokenizer/). For every model it loads
the folder with transformers' AutoModelForCausalLM in float32 on each device and attention implementation, runs the
manifest's input ids and writes the logits (little-endian float32, [1, positions, vocab]) to OUT/logits/. It renders
every fixture conversation with every template through the tokenizer's apply_chat_template (tokenize=False, so as
transformers configures jinja2; strftime_now's clock fixed as the fixtures fix it), and encodes the manifest's texts
with the tokenizer. Everything goes to OUT/results.json, rewritten after each part so that a timeout leaves what was
done. Nothing reaches the network (local_files_only, HF_HUB_OFFLINE). A failing model, device or render is recorded,
never fatal; the exit status is 0 unless the manifest cannot be read.
"""
import argparse
import json
import os
import platform
import struct
import sys
import time
import traceback
from datetime import datetime

FORMAT = 1

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def short_error(e):
    return f"{type(e).__name__}: {e}"


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def write_floats(path, tensor):
    """Little-endian float32 bytes of a CPU tensor (numpy when present, struct otherwise)."""
    flat = tensor.detach().to("cpu").float().contiguous().reshape(-1)
    try:
        data = flat.numpy().astype("<f4").tobytes()
    except Exception:  # numpy missing or incompatible with this torch
        values = flat.tolist()
        data = struct.pack(f"<{len(values)}f", *values)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def environment(results):
    env = results["environment"]
    env["python"] = sys.version.split()[0]
    env["platform"] = platform.platform()
    import torch
    env["torch"] = torch.__version__
    env["torch_cuda"] = torch.version.cuda
    env["torch_lib"] = os.path.join(os.path.dirname(torch.__file__), "lib")
    env["cuda_available"] = torch.cuda.is_available()
    if torch.cuda.is_available():
        env["device_name"] = torch.cuda.get_device_name(0)
        env["device_capability"] = list(torch.cuda.get_device_capability(0))
    for name in ("transformers", "jinja2", "tokenizers", "peft", "numpy", "safetensors"):
        try:
            env[name] = __import__(name).__version__
        except Exception as e:
            env[name] = f"not importable ({short_error(e)})"


def exact_float32():
    """Full float32 matmuls on CUDA (no TF32), so that 1e-4 is a fair bound."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        torch.set_float32_matmul_precision("highest")
    except Exception:
        pass


def load_model(folder, attn):
    from transformers import AutoModelForCausalLM
    import torch
    kwargs = dict(local_files_only=True, attn_implementation=attn, output_loading_info=True)
    try:
        return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    except TypeError as e:  # transformers < 4.56 names it torch_dtype
        if "dtype" not in str(e):
            raise
        return AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, **kwargs)


def run_models(manifest, prepared, out, devices, attns, results, save):
    import torch
    exact_float32()
    os.makedirs(os.path.join(out, "logits"), exist_ok=True)
    for model in manifest["models"]:
        name = model["name"]
        runs = results["models"].setdefault(name, {})
        folder = os.path.join(prepared, model["folder"])
        for device in devices:
            for attn in attns:
                run = f"{device}-{attn}"
                start = time.time()
                try:
                    if device.startswith("cuda") and not torch.cuda.is_available():
                        raise RuntimeError("torch.cuda.is_available() is False")
                    loaded, info = load_model(folder, attn)
                    problems = {k: list(v) for k, v in (info or {}).items()
                                if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
                    loaded = loaded.to(device).eval()
                    ids = torch.tensor([model["input_ids"]], dtype=torch.long, device=device)
                    with torch.no_grad():
                        logits = loaded(input_ids=ids).logits
                    if list(logits.shape) != model["shape"]:
                        raise RuntimeError(f"logits shape {list(logits.shape)}; expected {model['shape']}")
                    path = os.path.join("logits", f"{name}.{run}.f32")
                    write_floats(os.path.join(out, path), logits)
                    entry = {"logits": path, "class": type(loaded).__name__, "seconds": round(time.time() - start, 3)}
                    if problems:
                        entry["loading_info"] = problems
                    runs[run] = entry
                    del loaded
                except Exception as e:
                    runs[run] = {"error": short_error(e), "traceback": traceback.format_exc(limit=4)}
                print(f"model {name} {run}: {'error ' + runs[run]['error'] if 'error' in runs[run] else 'ok'}",
                      flush=True)
            save()


class FixedClock:
    """Fixes strftime_now's clock in transformers' template compiler (it calls datetime.now())."""

    @staticmethod
    def apply(fixed):
        import transformers.utils.chat_template_utils as ctu

        class Fixed(datetime):
            @classmethod
            def now(cls, tz=None):
                return fixed

        patched = []
        if hasattr(ctu, "datetime"):
            ctu.datetime = Fixed
            patched.append("chat_template_utils.datetime")
        compile_fn = getattr(ctu, "_compile_jinja_template", None)
        if compile_fn is not None and hasattr(compile_fn, "cache_clear"):
            compile_fn.cache_clear()
        return patched


def load_tokenizer(folder):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast
    try:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True), "AutoTokenizer"
    except Exception as e:
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(folder, "tokenizer.json"))
        return tok, f"PreTrainedTokenizerFast (AutoTokenizer failed: {short_error(e)})"


def run_renders(manifest, prepared, results, save):
    chat = manifest["chat"]
    fixed = datetime.fromisoformat(manifest["fixed_now"])
    results["environment"]["fixed_clock"] = FixedClock.apply(fixed) or "not patched: strftime_now uses the real clock"
    tok, how = load_tokenizer(os.path.join(prepared, manifest["tokenization"]["tokenizer"]))
    results["environment"]["chat_tokenizer"] = how
    with open(os.path.join(prepared, chat["conversations_file"]), encoding="utf-8") as f:
        conversations = json.load(f)
    for template in chat["templates"]:
        with open(os.path.join(prepared, template["file"]), encoding="utf-8", newline="") as f:
            source = f.read()
        cases = results["renders"].setdefault(template["name"], {})
        for conversation in conversations:
            variables = dict(conversation["variables"])
            messages = variables.pop("messages", [])
            tools = variables.pop("tools", None)
            documents = variables.pop("documents", None)
            add_generation_prompt = variables.pop("add_generation_prompt", False)
            continue_final_message = variables.pop("continue_final_message", False)
            kwargs = dict(template["tokens"])
            kwargs.update(variables)
            try:
                text = tok.apply_chat_template(messages, tools=tools, documents=documents, chat_template=source,
                                               add_generation_prompt=add_generation_prompt,
                                               continue_final_message=continue_final_message, tokenize=False,
                                               **kwargs)
                cases[conversation["name"]] = {"output": text}
            except Exception as e:
                cases[conversation["name"]] = {"error": {"type": type(e).__name__, "message": str(e)}}
        raised = sum(1 for c in cases.values() if "error" in c)
        print(f"renders {template['name']}: {len(cases)} conversations, {raised} raised", flush=True)
        save()


def run_tokenization(manifest, prepared, results):
    tok, how = load_tokenizer(os.path.join(prepared, manifest["tokenization"]["tokenizer"]))
    results["tokenization"] = {"loaded_with": how, "ids": [tok(text, add_special_tokens=False)["input_ids"]
                                                          for text in manifest["tokenization"]["texts"]]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prepared")
    parser.add_argument("out")
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--attn", default="eager,sdpa")
    args = parser.parse_args()
    with open(os.path.join(args.prepared, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    results = {"format": FORMAT, "environment": {}, "errors": {}, "models": {}, "renders": {}, "tokenization": {}}
    results_path = os.path.join(args.out, "results.json")

    def save():
        write_json(results_path, results)

    parts = [
        ("environment", lambda: environment(results)),
        ("models", lambda: run_models(manifest, args.prepared, args.out, args.devices.split(","),
                                      args.attn.split(","), results, save)),
        ("renders", lambda: run_renders(manifest, args.prepared, results, save)),
        ("tokenization", lambda: run_tokenization(manifest, args.prepared, results)),
    ]
    for name, part in parts:
        start = time.time()
        try:
            part()
        except Exception as e:
            results["errors"][name] = short_error(e) + "\n" + traceback.format_exc(limit=6)
            print(f"{name}: failed: {short_error(e)}", flush=True)
        results.setdefault("seconds", {})[name] = round(time.time() - start, 2)
        save()
    print(f"wrote {results_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
