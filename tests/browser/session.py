"""Signing in to the admin the way a marketer does, for the browser tests."""

MARKETER = ("marketer", "pw-Marketer-1")


def log_in(page, live_server, username: str = MARKETER[0], password: str = MARKETER[1]) -> None:
    """Sign in through the login form and wait for the admin's content."""
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#content-main")
