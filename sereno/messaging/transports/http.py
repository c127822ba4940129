"""What the HTTP-based transports (Twilio, WhatsApp Cloud, Telegram) share: one keep-alive
`httpx.Client` per transport instance, and the mapping of network failures and HTTP status
codes to retryable or permanent errors. Error details name codes, never addresses or texts."""

import threading

import httpx

from sereno.messaging.transports.base import PermanentError, RetryableError

TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class HTTPClientMixin:
    """A thread-safe, lazily created client: the sender calls `send` from several threads."""

    _client: httpx.Client | None = None
    _client_lock = threading.Lock()

    def http(self) -> httpx.Client:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        """The response, whatever its status; network failures become RetryableError."""
        try:
            return self.http().request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise RetryableError("timeout", code="timeout") from exc
        except httpx.HTTPError as exc:
            raise RetryableError(f"network error: {type(exc).__name__}", code="network") from exc


def raise_for_status(response: httpx.Response, *, code: str = "", retryable_codes=()) -> None:
    """429 and 5xx (and provider codes known to be temporary) are retryable; other 4xx are
    permanent. `code` is the provider's own error code, kept for the delivery record."""
    status = response.status_code
    if status < 400:
        return
    detail = f"HTTP {status}" + (f" error {code}" if code else "")
    if status == 429 or status >= 500 or (code and code in retryable_codes):
        raise RetryableError(detail, code=code or str(status), retry_after=retry_after(response))
    raise PermanentError(detail, code=code or str(status))
