"""The floor of the serving benchmark: the least an ASGI server can do per scoring request.

`python benchmarks/_floor_app.py MODEL_DIR PORT` loads the same MLflow model and answers
`POST /invocations` with `dataframe_split` bodies: decode, one `predict`, encode. No routing, no
checks, no metrics, no logging; the same uvicorn (httptools, uvloop) as the real server. What the
real server adds on top of this is the price of its checks, metrics and error handling.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import orjson
import uvicorn
from mlops_toolkit.registry.mlmodel import load_model

HEADERS = [(b"content-type", b"application/json")]


def make_app(model_dir: str) -> Any:
    estimator = load_model(model_dir).estimator

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/health":
            out = b'{"status":"ok"}'
        else:
            rows = np.asarray(orjson.loads(body)["dataframe_split"]["data"], dtype=np.float64)
            out = orjson.dumps(
                {"predictions": estimator.predict(rows)}, option=orjson.OPT_SERIALIZE_NUMPY
            )
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": out})

    return app


def main(argv: list[str]) -> int:
    import warnings

    # The model was fitted on a DataFrame; the floor feeds it a bare matrix, as our server does.
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    app = make_app(argv[1])
    uvicorn.run(app, host="127.0.0.1", port=int(argv[2]), log_level="warning", lifespan="off")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
