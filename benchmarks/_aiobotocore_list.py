"""What `qconnect-async list-import-jobs --knowledge-base-id KB --output json` does, written on
raw aiobotocore as a user would: one ListImportJobs page of KB (argv[1]), printed as JSON.

The endpoint, Region and credentials come from the environment (AWS_ENDPOINT_URL_QCONNECT).
"""

import asyncio
import json
import sys

from aiobotocore.session import get_session


async def main(knowledge_base_id: str) -> None:
    async with get_session().create_client("qconnect") as client:
        page = await client.list_import_jobs(knowledgeBaseId=knowledge_base_id)
    page.pop("ResponseMetadata", None)
    print(json.dumps(page, indent=4, default=str))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
