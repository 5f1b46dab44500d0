"""README.md tells operators and developers what exists: its tables must follow the code."""
from pathlib import Path

from aspsp.config import SETTINGS, markdown_table
from sandbox.seed import DEMO_USERS, SANDBOX_PASSWORD

README = Path(__file__).resolve().parents[2] / "README.md"
START = "<!-- configuration table: make config-table -->"
END = "<!-- end of configuration table -->"


def configuration_table(text: str) -> str:
    assert START in text and END in text, "README.md lost its configuration table markers"
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def test_readme_opens_with_the_run_and_test_commands():
    first_block = README.read_text().split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line]
    assert commands == ["make run", "make test"]


def test_readme_configuration_table_is_the_settings_in_aspsp_config():
    table = configuration_table(README.read_text())
    assert table == markdown_table(), (
        "README.md's configuration table differs from aspsp/config.py SETTINGS: "
        "replace it with the output of `make config-table`")
    assert len(table.splitlines()) == 2 + len(SETTINGS)


def test_readme_names_every_demo_login_with_its_password():
    text = README.read_text()
    assert f"`{SANDBOX_PASSWORD}`" in text
    for user in DEMO_USERS:
        assert f"| `{user.username}` |" in text, f"README.md does not list demo user {user.username}"
        assert user.totp_secret in text
