import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/nothing/", "/v2/nothing", "/hooks/a/b/c"])
def test_unknown_machine_paths_answer_json_404(client, path):
    response = client.post(path, data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Nothing at {path}."}


def test_unknown_pages_answer_the_product_404_page(client, responder):
    client.force_login(responder)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Nothing here" in response.content
