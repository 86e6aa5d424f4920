import pytest


@pytest.fixture(autouse=True)
def default_mappings(db):
    # A transactional test's flush empties the tables the data migrations filled.
    from reconciliation.defaults import default_mappings_install
    from reconciliation.models import SourceMapping

    default_mappings_install(SourceMapping)
