from collections.abc import Iterator

import pytest

from tests.support.e2e import Worker, start_worker


@pytest.fixture(scope="package")
def worker(
    worker_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    yield from start_worker(worker_environment, tmp_path_factory)
