"""An OpenAI-compatible chat-completions server (vLLM, llama.cpp, TGI, ...) as an :class:`LLM`.

Standard library only: ``urllib.request`` for HTTP, a thread pool for concurrent requests.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from rewardgym.reward_models.llm.base import Prompt, as_messages

__all__ = ["OpenAIChatLLM", "LLMRequestError"]

logger = logging.getLogger(__name__)


class LLMRequestError(RuntimeError):
    """A chat-completion request failed for good (a client error, or every retry failed)."""


def _retryable(error: BaseException) -> bool:
    if isinstance(error, urllib.error.HTTPError):
        return error.code == 429 or error.code >= 500
    return isinstance(error, (urllib.error.URLError, TimeoutError, ConnectionError, ValueError, KeyError))


class OpenAIChatLLM:
    """``POST {base_url}/chat/completions`` for each prompt, concurrently, with retries.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        model: the model name the server serves.
        api_key: sent as ``Authorization: Bearer <key>`` when given.
        timeout: seconds per request.
        retries: extra attempts after a failed one (connection errors, timeouts, HTTP 429 and
            5xx, malformed replies); waits ``backoff · 2^attempt`` seconds between attempts.
            Other HTTP errors (400, 401, 404) are raised at once.
        max_concurrency: requests in flight at once, over all ``generate`` calls of this object.
        backoff: the first retry's delay in seconds.
    """

    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 30,
                 retries: int = 3, max_concurrency: int = 8, backoff: float = 0.5) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.max_concurrency = int(max_concurrency)
        self.backoff = float(backoff)
        self._slots = threading.BoundedSemaphore(self.max_concurrency)

    def generate(
        self, prompts: list[str | list[dict]], *, max_new_tokens: int = 64, temperature: float = 0.1
    ) -> list[str]:
        """The reply to each prompt, in order; raises :class:`LLMRequestError` when one fails for good."""
        if not prompts:
            return []
        workers = min(self.max_concurrency, len(prompts))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chat-completions") as pool:
            return list(pool.map(lambda prompt: self.complete(prompt, max_new_tokens, temperature), prompts))

    def complete(self, prompt: Prompt, max_new_tokens: int = 64, temperature: float = 0.1) -> str:
        """One request, retried with exponential backoff."""
        body = {
            "model": self.model,
            "messages": as_messages(prompt),
            "max_tokens": int(max_new_tokens),
            "temperature": float(temperature),
        }
        for attempt in range(self.retries + 1):
            try:
                with self._slots:
                    return self._post(body)
            except Exception as error:
                if not _retryable(error):
                    raise LLMRequestError(f"chat completion at {self.url} failed: {error}") from error
                if attempt == self.retries:
                    raise LLMRequestError(
                        f"chat completion at {self.url} failed after {attempt + 1} attempts: {error}"
                    ) from error
                logger.warning("chat completion attempt %d failed (%s); retrying", attempt + 1, error)
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _post(self, body: dict) -> str:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            reply = json.loads(response.read().decode("utf-8"))
        content = reply["choices"][0]["message"]["content"]
        return "" if content is None else str(content)

    def __repr__(self) -> str:
        return f"OpenAIChatLLM(url={self.url!r}, model={self.model!r}, max_concurrency={self.max_concurrency})"
