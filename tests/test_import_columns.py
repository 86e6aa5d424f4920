"""The hub's import columns (orders.import_columns): the shop's admin form checks a mapping
against them, and the file reader knows the headers of exactly these columns."""

from __future__ import annotations

import pytest

from integrations.channels.csv_import import CHANNEL_COLUMNS, GENERIC
from orders.import_columns import IMPORT_COLUMNS_GENERIC, import_column_names, import_mapping_clean
from orders.states import Channel


@pytest.mark.parametrize("channel", Channel.values)
def test_the_reader_knows_the_headers_of_every_column_of_the_hub(channel):
    assert set(import_column_names(channel)) == {*GENERIC, *CHANNEL_COLUMNS[channel].columns}
    assert set(IMPORT_COLUMNS_GENERIC) <= set(import_column_names(channel))


def test_a_mapping_is_cleaned_or_refused():
    assert import_mapping_clean(Channel.TAOBAO, None) == {} == import_mapping_clean(Channel.TAOBAO, "")
    assert import_mapping_clean(Channel.TAOBAO, {"external_id": " 店铺订单号 "}) == {"external_id": "店铺订单号"}
    with pytest.raises(ValueError, match="must be a JSON object"):
        import_mapping_clean(Channel.TAOBAO, ["external_id"])
    with pytest.raises(ValueError, match="is not an import column of this channel"):
        import_mapping_clean(Channel.MANUAL, {"status": "状态"})  # a Taobao column, not a manual one
    with pytest.raises(ValueError, match="must be the column's name"):
        import_mapping_clean(Channel.TAOBAO, {"external_id": "  "})
