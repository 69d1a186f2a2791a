"""The hosted card page: a plain HTML form that tokenises a card and shows the token."""

from __future__ import annotations

from html import escape

from litestar import MediaType, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import URLEncodedBody

from payments.psp.sandbox.models import HostedCardForm
from payments.psp.sandbox.openapi import answers
from payments.psp.sandbox.problems import ProblemError
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.tokens import CardInput, tokenise_card

HOSTED_PAGE = "hosted page"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1>
{content}
</body></html>
"""

_FORM = """<form method="post" action="/v1/hosted/card" autocomplete="off">
<p><label>Card number <input name="number" inputmode="numeric" required></label></p>
<p><label>Expiry (MM/YY) <input name="expiry" placeholder="12/34" required></label></p>
<p><label>CVC <input name="cvc" inputmode="numeric" required></label></p>
<p><button type="submit">Save card</button></p>
</form>"""


def _html(title: str, content: str, status_code: int = 200) -> Response[str]:
    return Response(
        _PAGE.format(title=escape(title), content=content),
        status_code=status_code,
        media_type=MediaType.HTML,
    )


def parse_expiry(text: str) -> tuple[int, int]:
    """'MM/YY' or 'MM/YYYY' as (month, year); (0, 0) when unreadable."""
    month_text, _, year_text = text.strip().partition("/")
    month_text, year_text = month_text.strip(), year_text.strip()
    if not (month_text.isdigit() and year_text.isdigit() and len(year_text) in (2, 4)):
        return 0, 0
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    return int(month_text), year


def hosted_page_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @get(
        "/v1/hosted/card",
        media_type=MediaType.HTML,
        operation_id="showHostedCardForm",
        tags=[HOSTED_PAGE],
        summary="The hosted card form (HTML)",
        responses=answers({200: (str, "the form")}, public=True, media_type=MediaType.HTML),
    )
    async def show_card_form() -> Response[str]:
        return _html("Enter your card", _FORM)

    @post(
        "/v1/hosted/card",
        media_type=MediaType.HTML,
        operation_id="submitHostedCardForm",
        tags=[HOSTED_PAGE],
        summary="Tokenise the card typed into the hosted form (HTML)",
        responses=answers(
            {
                201: (str, "the page with the token"),
                422: (str, "the form again, with what is wrong with the card"),
            },
            {400: "the form data cannot be read", 413: "the body is larger than the limit"},
            public=True,
            media_type=MediaType.HTML,
        ),
    )
    async def submit_card_form(
        data: URLEncodedBody[HostedCardForm],
    ) -> Response[str]:
        """Public without an API key, like a real PSP's card form behind a publishable key: it
        only turns a card into a token, which is useless without the secret key."""
        month, year = parse_expiry(data.expiry)
        # People type spaces and dashes in card numbers; the JSON API is strict, the page is not.
        number = data.number.replace(" ", "").replace("-", "")
        card = CardInput(number, month, year, data.cvc.strip())
        try:
            view = tokenise_card(sandbox, card)
        except ProblemError as error:
            items = "".join(
                f"<li>{escape(item.field)}: {escape(item.message)}</li>"
                for item in error.problem.errors
            )
            content = f'<ul class="errors">{items}</ul>\n{_FORM}'
            return _html("Please check your card", content, status_code=422)
        content = (
            f"<p>Card saved: {escape(view.brand)} ending in {escape(view.last4)}.</p>\n"
            f'<p>Token: <code id="token">{escape(view.token)}</code></p>\n'
            f'<p>Fingerprint: <code id="fingerprint">{escape(view.fingerprint)}</code></p>'
        )
        return _html("Card saved", content, status_code=201)

    return [show_card_form, submit_card_form]
