"""Datasets of a run: references from the skill, S3 access, visibility, staging and sample counts.

One module per job: ``locations`` (parse local paths and ``s3://``/``aws://`` URIs), ``references``
(which spec keys name data; required inputs), ``s3`` (boto3 with credentials found by name),
``visibility`` (can the jobs read it, checked from where they run), ``staging`` (copy or extract
once under the results root), ``counting`` (training samples from the annotation) and
``preparation`` (what a run does with all of that before its first job).
"""

from tao_automl.data.counting import count_records
from tao_automl.data.locations import Location, is_s3, parse_location
from tao_automl.data.preparation import DataPlan, DataUnreadableError, SampleCount, apply_staged, prepare_data
from tao_automl.data.references import DatasetRef, dataset_references, require_inputs
from tao_automl.data.staging import StagedSource, Stager
from tao_automl.data.visibility import ProbeOptions, Visibility, check_visibility

__all__ = [
    "DataPlan",
    "DataUnreadableError",
    "DatasetRef",
    "Location",
    "ProbeOptions",
    "SampleCount",
    "StagedSource",
    "Stager",
    "Visibility",
    "apply_staged",
    "check_visibility",
    "count_records",
    "dataset_references",
    "is_s3",
    "parse_location",
    "prepare_data",
    "require_inputs",
]
