"""Onboarding by ID card and selfie in headless Chromium (issue 18), against a running gateway:
the customer chooses photos of both sides of a card the test draws, takes the selfie in front
of a fake camera that plays a blink (`camera.write_y4m` of scikit-image's astronaut, eyes open,
painted shut, open), sends, and sees "Verified" once the gateway has checked it; a stranger's
submission waits in the officer's queue, where the officer sees the images, the fields and the
distance, and rejects it with a reason the customer then reads. Both pages in Khmer too,
checked by axe, with no console error and no request off the machine (the harness).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.browser import camera, harness
from tests.browser.test_wallet_pages import signed_in
from tests.gateway import kyc_cards as cards
from tests.gateway.conftest import RunningGateway
from tests.gateway.test_wallets import PIN, auth, officer_token, register

CHECKS_MS = 90_000
HALF_SECOND = camera.FRAME_RATE // 2  # frames of the fake camera in half a second


@pytest.fixture
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        yield client


def _blink_video(path: Path) -> Path:
    """The astronaut in a 640 x 480 frame: eyes open half a second, shut half a second, on a
    loop (the page takes 8 frames 250 ms apart: at least one shut between two open)."""
    first, _, closed, _ = cards.blink_frames(cards.astronaut())

    def framed(picture: Image.Image) -> Image.Image:
        frame = Image.new("RGB", camera.FRAME_SIZE, camera.BACKGROUND)
        frame.paste(picture.resize((480, 480), Image.Resampling.LANCZOS), (80, 0))
        return frame

    open_eyes, shut = [framed(first)] * HALF_SECOND, [framed(closed)] * HALF_SECOND
    return camera.write_y4m(path, open_eyes + shut)


def _card_files(tmp_path: Path, photo: Image.Image) -> tuple[str, str]:
    person = cards.Person()
    front, back = tmp_path / "front.jpg", tmp_path / "back.png"
    cards.card_front(photo, person).save(front, quality=92)
    cards.card_back(person).save(back)
    return str(front), str(back)


def test_a_customer_verifies_with_card_photos_and_a_selfie(
    camera_browser: Callable[[Path], Browser], pages: Callable[..., Page],
    gateway: RunningGateway, http: httpx.Client, tmp_path: Path,
) -> None:  # fmt: skip
    register(http, gateway, "+85512400101", "sokha_chan", "Sokha Chan")
    page = pages(on=camera_browser(_blink_video(tmp_path / "blink.y4m")))
    signed_in(page, gateway, "+85512400101")
    page.get_by_role("link", name="Verify my identity").first.click()
    expect(page).to_have_url(f"{gateway.url}/wallet/verify")
    expect(page.locator("#lead")).to_contain_text("12,000,000 ៛")
    harness.check_a11y(page)
    front, back = _card_files(tmp_path, cards.id_photo(cards.astronaut()))
    page.get_by_label("Front of the card (with your photo)").set_input_files(front)
    page.get_by_label("Back of the card (with the lines of letters and <<<)").set_input_files(back)
    expect(page.locator("#front-preview")).to_be_visible()
    expect(page.locator("#back-preview")).to_be_visible()
    page.get_by_role("button", name="Start the camera").click()
    page.get_by_role("button", name="Take the selfie").click()
    expect(page.locator("#frames img")).to_have_count(8, timeout=10_000)
    expect(page.locator("#prompt")).to_have_text("Done. Check the pictures, then send.")
    harness.check_a11y(page)
    harness.shoot(page, "kyc-verify-ready")
    page.get_by_role("button", name="Send for checking").click()
    expect(page.locator("#status-text")).to_have_text(
        "Verified. Your wallet is now at the partial tier.", timeout=CHECKS_MS
    )
    expect(page.locator("#verify")).to_be_hidden()
    harness.shoot(page, "kyc-verify-verified")
    assert page.evaluate("() => document.getElementById('camera').srcObject") is None
    token = http.post("/v1/sessions", json={"phone": "+85512400101", "pin": PIN})
    assert http.get("/v1/wallet", headers=auth(token.json()["token"])).json()["tier"] == 1


def test_an_officer_rejects_a_stranger_and_the_customer_reads_why(
    pages: Callable[..., Page], gateway: RunningGateway, http: httpx.Client,
) -> None:  # fmt: skip
    customer = register(http, gateway, "+85512400201", "chan_sokha", "Chan Sokha")
    frames = cards.blink_frames(cards.astronaut())
    body = cards.submission(
        cards.card_front(cards.other_person(), cards.Person()), cards.card_back(cards.Person()),
        frames,
    )  # fmt: skip
    sent = http.post("/v1/kyc/submissions", headers=auth(customer), json=body)
    assert sent.status_code == 202, sent.text
    latest = "/v1/kyc/submissions/latest"
    gateway.wait_until(
        lambda: http.get(latest, headers=auth(customer)).json()["state"] == "review",
        CHECKS_MS / 1000,
    )

    desk = pages(width=1024, height=900, lang="km")
    desk.goto(f"{gateway.url}/officer/signin")
    token = officer_token(gateway)
    desk.evaluate("(token) => sessionStorage.setItem('bakong.token.officer', token)", token)
    desk.goto(f"{gateway.url}/officer/kyc")
    expect(desk.locator("h1")).to_have_text("ការពិនិត្យអត្តសញ្ញាណ")
    open_button = desk.locator("#queue button")
    expect(open_button).to_have_count(1)
    harness.check_a11y(desk)
    open_button.click()
    expect(desk.locator("#doubts li")).to_have_text(["រូបថតខ្លួនឯងមិនត្រូវនឹងរូបថតលើប័ណ្ណ"])
    expect(desk.locator("#selfies img")).to_have_count(4)
    expect(desk.locator("#fields")).to_contain_text("012345678")
    expect(desk.locator("#front-text")).to_contain_text("ចាន់ សុខា")
    expect(desk.locator("#wallet-name")).to_have_text("Chan Sokha")
    loaded = "() => [...document.images].every((image) => image.complete && image.naturalWidth > 0)"
    desk.wait_for_function(loaded)
    harness.check_a11y(desk)
    harness.shoot(desk, "kyc-officer-review")
    desk.get_by_label("មូលហេតុ").fill("the selfie is not the person on the card")
    desk.locator("#reject").click()
    expect(desk.locator("#done")).to_be_visible()
    expect(desk.locator("#queue-empty")).to_be_visible()

    phone = pages(lang="km")
    phone.goto(f"{gateway.url}/wallet/signin")
    phone.evaluate("(token) => sessionStorage.setItem('bakong.token.customer', token)", customer)
    phone.goto(f"{gateway.url}/wallet/verify")
    expect(phone.locator("#status-reason")).to_have_text(
        "មូលហេតុរបស់មន្ត្រី៖ the selfie is not the person on the card"
    )
    expect(phone.locator("#verify")).to_be_visible()  # a new try is allowed
    harness.check_a11y(phone)
