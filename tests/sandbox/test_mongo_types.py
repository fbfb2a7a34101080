"""The BSON gap between nx-27017 (the sandbox's MongoDB) and production, and mongoeco covering it.

Production stores gift amounts as Decimal128 and has Timestamp/Regex/MinKey/MaxKey values;
nx-27017 rejects those types and narrows small Int64 to int32, so the sandbox seeds amounts
as strings plus Int64 minor units (README). mongoeco keeps every type: the production form
of a seeded document round-trips on it unchanged.
"""
from __future__ import annotations

import datetime as dt
import os

import pymongo
import pytest
from bson import Decimal128, Int64, MaxKey, MinKey, Regex, Timestamp
from bson.codec_options import CodecOptions

import mongo_helpers
from sandboxlib import seed, world

OPTIONS = CodecOptions(tz_aware=True, tzinfo=dt.timezone.utc)


def production_gift() -> dict:
    gift = dict(seed.mongo_documents(world.resolve("healthy"))["gifts"][0])
    gift["amount"] = Decimal128(gift["amount"])  # what production stores
    gift.update(small_counter=Int64(7), synced_at=Timestamp(1764194400, 3), sku_pattern=Regex(r"^gift-[a-z]+$", "i"),
                range_low=MinKey(), range_high=MaxKey())
    return gift


@pytest.fixture(scope="module")
def mongoeco(tmp_path_factory):
    server = mongo_helpers.MongoEcoServer().start(tmp_path_factory.mktemp("mongoeco"))
    yield server
    server.stop()


def test_production_typed_gift_round_trips_on_mongoeco(mongoeco):
    gift = production_gift()
    with pymongo.MongoClient(mongoeco.uri, serverSelectionTimeoutMS=5000) as client:
        col = client.halobuzz.get_collection("gifts", codec_options=OPTIONS)
        col.insert_one(gift)
        back = col.find_one({"_id": gift["_id"]})
    assert back == gift
    assert {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in gift.items()}


@pytest.mark.skipif(os.environ.get("HALOBUZZ_USE_ENV") == "1", reason="describes nx-27017, the sandbox default")
@pytest.mark.parametrize("field, value", [("amount", Decimal128("1.00")), ("synced_at", Timestamp(1, 1)),
                                          ("sku_pattern", Regex("^a")), ("range_low", MinKey()),
                                          ("range_high", MaxKey())])
def test_sandbox_mongodb_rejects_what_the_readme_says(sandbox_env, field, value):
    with pymongo.MongoClient(sandbox_env["MONGODB_URI"], serverSelectionTimeoutMS=5000) as client:
        col = client.halobuzz_bson_gap.probe
        with pytest.raises(pymongo.errors.WriteError):
            col.insert_one({field: value})
        col.insert_one({"_id": field, "small": Int64(5)})
        assert type(col.find_one({"_id": field})["small"]) is int  # narrowed to int32
        client.drop_database("halobuzz_bson_gap")
