"""What Lambda's DynamoDB event source mapping does, over moto's DynamoDB Streams, for the
events tests: read the table's stream in order, pass the number items only (the mapping's
FilterCriteria), invoke the consumer with Lambda's event shape, and handle its answer as the
mapping's settings say. Sources, each behaviour beside its code:

- event shape: docs.aws.amazon.com/lambda/latest/dg/with-ddb.html (example event:
  ``ApproximateCreationDateTime`` in Unix seconds, ``eventSourceARN`` on each record);
- partial batch response: docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
  (the batch is retried from the lowest reported sequence number; with BisectBatchOnFunctionError
  the retried batch is split there);
- retries and the on-failure destination: docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
  (after MaximumRetryAttempts the batch is discarded and a record of it, with
  ``DDBStreamBatchInfo``, goes to the SQS destination; processing continues after it);
- the filter: FILTER in scripts/deploy/events_resources.py (the number and TOTP items);
- TTL deletes: docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html
  (a REMOVE record with ``userIdentity`` {"type": "Service", "principalId": "dynamodb.amazonaws.com"});
  moto writes no ``userIdentity``, so ``ttl_delete`` deletes the item and marks its record.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import boto3

from scripts.deploy.events_resources import MAX_RETRIES
from scripts.local.events import lambda_record, streams_client


class StreamPoller:
    def __init__(self, table: str, handler: Callable[[list[dict]], dict], failed_queue_url: str | None = None,
                 max_retries: int = MAX_RETRIES, batch_size: int = 100) -> None:
        self.dynamodb = boto3.client("dynamodb")
        # The plain endpoint: moto 5.2.5 does not route botocore's account-based one.
        self.streams = streams_client(None)
        self.sqs = boto3.client("sqs")
        self.table = table
        self.handler = handler
        self.failed_queue_url = failed_queue_url
        self.max_retries = max_retries
        self.batch_size = batch_size
        self.arn = self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.position: dict[str, str | None] = {}  # shard -> last checkpointed sequence number
        self.ttl_deletes: list[str] = []  # sequence numbers of TTL's REMOVE records
        self.invocations = 0
        self.retries = 0
        self.size = batch_size
        self.discarded: list[dict] = []

    def ttl_delete(self, pk: str) -> None:
        """DynamoDB's TTL removing an item: a delete whose stream record names the service."""
        self.dynamodb.delete_item(TableName=self.table, Key={"pk": {"S": pk}})
        removes = [r for _, r in self._read() if r["eventName"] == "REMOVE" and r["dynamodb"]["Keys"]["pk"]["S"] == pk]
        self.ttl_deletes.append(removes[-1]["dynamodb"]["SequenceNumber"])

    def _read(self) -> list[dict]:
        records = []
        for shard in self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            after = self.position.get(shard_id)
            kwargs = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after
                      else {"ShardIteratorType": "TRIM_HORIZON"})
            iterator = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard_id, **kwargs)["ShardIterator"]
            for record in self.streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
                records.append((shard_id, self._as_lambda(record)))
        return records

    def _as_lambda(self, record: dict) -> dict:
        event = lambda_record(record, self.arn)
        if event["dynamodb"]["SequenceNumber"] in self.ttl_deletes:
            event["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        return event

    def run(self, rounds: int = 1) -> None:
        """Poll ``rounds`` times: each round invokes the consumer once (if there is anything)."""
        for _ in range(rounds):
            # The FilterCriteria: only the number items invoke the function; the others are
            # passed over (checkpointed with the batch after them).
            records = [(s, r) for s, r in self._read() if r["dynamodb"]["Keys"]["pk"]["S"].startswith(("v#", "t#"))]
            if not records:
                return
            batch = records[:self.size]
            self.invocations += 1
            try:
                answer = self.handler([r for _, r in batch])
                failures = [f["itemIdentifier"] for f in (answer or {}).get("batchItemFailures", [])]
            except Exception:  # noqa: BLE001 - a function error: the whole batch failed
                failures = [batch[0][1]["dynamodb"]["SequenceNumber"]]
            if not failures:
                self._checkpoint(batch)
                self.retries, self.size = 0, self.batch_size
                continue
            lowest = min(int(f) for f in failures)
            done = [(s, r) for s, r in batch if int(r["dynamodb"]["SequenceNumber"]) < lowest]
            self._checkpoint(done)  # the records before the reported one are taken: not retried
            self.retries = 1 if done else self.retries + 1
            # BisectBatchOnFunctionError: the retried batch, from the failed record, is split in two.
            self.size = max(1, (len(batch) - len(done)) // 2)
            if self.retries > self.max_retries:  # discarded: its position goes to the on-failure queue
                self._discard(batch[len(done):len(done) + self.size])
                self.retries, self.size = 0, self.batch_size

    def _checkpoint(self, batch: list[tuple[str, dict]]) -> None:
        for shard_id, record in batch:
            self.position[shard_id] = record["dynamodb"]["SequenceNumber"]

    def _discard(self, batch: list[tuple[str, dict]]) -> None:
        first, last = batch[0][1], batch[-1][1]
        info = {
            "requestContext": {"condition": "RetryAttemptsExhausted",
                               "approximateInvokeCount": self.max_retries + 1},
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": batch[0][0], "streamArn": self.arn, "batchSize": len(batch),
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first["dynamodb"]["ApproximateCreationDateTime"],
                "approximateArrivalOfLastRecord": last["dynamodb"]["ApproximateCreationDateTime"],
            },
        }
        self.discarded.append(info)
        if self.failed_queue_url:
            self.sqs.send_message(QueueUrl=self.failed_queue_url, MessageBody=json.dumps(info))
        self._checkpoint(batch)

