"""List prices of model calls (genai-prices), for calls that report no cost and for the forecast."""

from __future__ import annotations


def list_price(model: str, base_url: str | None, prompt_tokens: int, cached: int, completion: int,
               cache_write: int = 0) -> float | None:
    """List price of one call, or None when genai-prices does not know the model (e.g. a local model).
    `prompt_tokens` includes the `cached` (read) and `cache_write` ones. The provider is found from the
    endpoint, else (a proxy, a mock) from the model name alone."""
    from genai_prices import Usage, calc_price
    usage = Usage(input_tokens=prompt_tokens, cache_read_tokens=cached, cache_write_tokens=cache_write,
                  output_tokens=completion)
    for url in (base_url or None, None):        # provider_api_url=None: found from the model name
        try:
            return float(calc_price(usage, model_ref=model, provider_api_url=url).total_price)
        except LookupError:
            continue
    return None
