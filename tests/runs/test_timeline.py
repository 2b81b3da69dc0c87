"""GET /v1/runs/{id}/timeline, GET /v1/runs/{id}/artifacts and artifact downloads."""

import pytest
from django.core.files.base import ContentFile

from runs.models import Artifact, ArtifactKind, Run, RunType, Step, StepStatus
from tests.conftest import Tenant

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def recorded_run(tenant: Tenant) -> Run:
    run = Run.objects.create(
        organization=tenant.organization, run_type=RunType.TASK_V1, prompt="Log in"
    )
    step = Step.objects.create(
        run=run,
        order=1,
        status=StepStatus.COMPLETED,
        url="https://example.com/login",
        page_title="Log in",
        reasoning="Fill in the form.",
        actions=[
            {"type": "input_text", "element_id": "e1", "text": "alice",
             "result": {"ok": True, "error": None, "duration_ms": 12}},
            {"type": "select_option", "element_id": "e2", "option": "Mars",
             "result": {"ok": False, "error": "Option 'Mars' not found", "duration_ms": 3}},
        ],
        prompt_tokens=1200,
        completion_tokens=80,
        model_calls=1,
    )  # fmt: skip
    screenshot = Artifact(run=run, step=step, kind=ArtifactKind.SCREENSHOT, name="s.png",
                          content_type="image/png", size=len(PNG))  # fmt: skip
    screenshot.file.save("s.png", ContentFile(PNG))
    download = Artifact(run=run, step=step, kind=ArtifactKind.DOWNLOAD, name="invoice.csv",
                        content_type="text/csv", size=4)  # fmt: skip
    download.file.save("invoice.csv", ContentFile(b"a,b\n"))
    return run


def test_timeline_has_each_step_with_its_actions(tenant: Tenant, recorded_run: Run) -> None:
    response = tenant.get(f"/v1/runs/{recorded_run.public_id}/timeline")
    assert response.status_code == 200
    (entry,) = response.json()
    block = entry["block"]
    assert entry["type"] == "block"
    assert block["workflow_run_id"] == recorded_run.public_id
    assert (block["step_order"], block["status"], block["page_title"]) == (1, "completed", "Log in")
    assert block["reasoning"] == "Fill in the form."
    assert (block["prompt_tokens"], block["completion_tokens"]) == (1200, 80)
    typed, failed = block["actions"]
    assert (typed["action_type"], typed["status"], typed["text"]) == (
        "input_text",
        "completed",
        "alice",
    )
    assert (failed["status"], failed["response"]) == ("failed", "Option 'Mars' not found")
    assert failed["option"] == {"label": "Mars"}
    assert block["screenshot"]["artifact_type"] == "screenshot_llm"


def test_artifacts_list_and_filter(tenant: Tenant, recorded_run: Run) -> None:
    listed = tenant.get(f"/v1/runs/{recorded_run.public_id}/artifacts").json()
    assert {a["artifact_type"] for a in listed} == {"screenshot_llm", "download"}
    only = tenant.get(f"/v1/runs/{recorded_run.public_id}/artifacts?artifact_type=download")
    assert [a["name"] for a in only.json()] == ["invoice.csv"]


def test_artifact_download_is_the_file(tenant: Tenant, recorded_run: Run) -> None:
    listed = tenant.get(f"/v1/runs/{recorded_run.public_id}/artifacts").json()
    by_name = {a["name"]: a for a in listed}
    image = tenant.get(by_name["s.png"]["uri"])
    assert image.status_code == 200
    assert image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == PNG
    csv = tenant.get(by_name["invoice.csv"]["uri"])
    assert 'attachment; filename="invoice.csv"' in csv["Content-Disposition"]


def test_other_organization_gets_404_for_timeline_and_artifacts(
    tenant: Tenant, other_tenant: Tenant, recorded_run: Run
) -> None:
    run_id = recorded_run.public_id
    assert other_tenant.get(f"/v1/runs/{run_id}/timeline").status_code == 404
    assert other_tenant.get(f"/v1/runs/{run_id}/artifacts").status_code == 404
    for artifact in recorded_run.artifacts.all():
        response = other_tenant.get(f"/v1/artifacts/{artifact.public_id}/content")
        assert response.status_code == 404
        assert response.json() == {"detail": f"Artifact not found: {artifact.public_id}"}


def test_artifact_whose_file_is_gone_is_404_not_500(tenant: Tenant, recorded_run: Run) -> None:
    artifact = recorded_run.artifacts.first()
    artifact.file.delete(save=False)
    response = tenant.get(f"/v1/artifacts/{artifact.public_id}/content")
    assert response.status_code == 404
