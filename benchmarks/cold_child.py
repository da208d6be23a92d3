"""One cold start, run in a fresh process by benchmarks/coldstart.py (not imported by the suite).

`python cold_child.py engine|handwritten EVENT.json`: import the function's module
(timed from here; the engine's from $SES_RULES_TASK_ROOT, the package's layout, else
the checkout), answer one event with a Lambda-like context, print the answer, the
milliseconds spent, the peak RSS and where the policy came from as the last line of output.
"""
import json
import os
import sys
import time
from pathlib import Path

started = time.perf_counter()
ROOT = Path(__file__).resolve().parent.parent
PARSERS = {"yaml", "jsonpath_ng", "ply"}     # what a cold start from a precompiled bundle never imports


class Context:
    """The attributes Powertools' inject_lambda_context reads from a real Lambda context."""
    function_name = "ses-rules-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:ses-rules-bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"


def main() -> None:
    kind, event_path = sys.argv[1], sys.argv[2]
    if kind == "engine":
        sys.path.insert(0, os.environ.get("SES_RULES_TASK_ROOT") or str(ROOT))
        from handler import lambda_handler
    else:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from default_filter import lambda_handler
    event = json.loads(Path(event_path).read_text(encoding="utf-8-sig"))
    answer = lambda_handler(event, Context())
    ms = (time.perf_counter() - started) * 1e3
    source = sys.modules["handler"].policy_source().origin if kind == "engine" else None
    print(json.dumps({"answer": answer, "ms": ms, "peak_rss_mb": peak_rss_mb(), "modules": len(sys.modules),
                      "policy_source": source, "parsers": sorted(PARSERS & set(sys.modules))}))


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a
    child of a large benchmark process would report its parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
    # A cold start is the runtime's start, the import and the first answer; Lambda then keeps the
    # process for the next invocation, never tearing it down per event. Interpreter finalization
    # (freeing every module and object, ~8 ms for the engine's) is left out for both functions alike.
    sys.stdout.flush()
    os._exit(0)
