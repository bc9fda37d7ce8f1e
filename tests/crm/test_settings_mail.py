import email
from email import policy

from django.core.mail import EmailMultiAlternatives

from crm.mail import EmlFileBackend


def test_each_message_becomes_its_own_eml_file(tmp_path):
    backend = EmlFileBackend(file_path=str(tmp_path))
    messages = [
        EmailMultiAlternatives(
            subject=f"שלום {i}", body="טקסט", from_email="club@example.com", to=[f"a{i}@example.com"]
        )
        for i in range(3)
    ]
    assert backend.send_messages(messages) == 3
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 3
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Subject"].startswith("שלום")
