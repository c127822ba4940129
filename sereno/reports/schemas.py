"""API shapes. Public output carries only public fields: never exact coordinates or contacts."""

from datetime import date, datetime
from typing import Literal

from django.utils.translation import get_language
from ninja import Schema
from pydantic import ConfigDict, Field

from sereno.reports.models import Report

TimePrecisionT = Literal["exact", "day", "month"]
LocationPrecisionT = Literal["exact", "place", "municipality", "department"]


class ReportIn(Schema):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=200)
    description: str = Field(max_length=10000)
    categories: list[str] = Field(default_factory=list, max_length=5)
    occurred_at: datetime
    occurred_precision: TimePrecisionT = "day"
    latitude: float | None = None
    longitude: float | None = None
    location_precision: LocationPrecisionT = "place"
    place_name: str = Field(default="", max_length=200)
    language: Literal["es", "en"] | None = None
    involves_minors: bool = False
    contact: str = Field(default="", max_length=200)
    killed: int | None = Field(default=None, ge=0, le=10000)
    injured: int | None = Field(default=None, ge=0, le=10000)


class ReportCreated(Schema):
    reference: str
    status: str
    created: bool
    message: str


class CategoryOut(Schema):
    slug: str
    name: str
    parent: str | None
    sensitive: bool
    color: str


class PublicLocation(Schema):
    latitude: float
    longitude: float
    resolution: int
    approximate_radius_m: int


class MediaOut(Schema):
    url: str
    width: int | None
    height: int | None


class PublicReport(Schema):
    reference: str
    title: str
    description: str
    categories: list[CategoryOut]
    occurred: str
    occurred_precision: str
    location: PublicLocation | None
    place_name: str
    department: str
    department_name: str
    municipality: str
    killed: int | None
    injured: int | None
    published_at: datetime | None
    merged_reports: int
    media: list[MediaOut]


class Page(Schema):
    count: int
    page: int
    page_size: int
    pages: int
    results: list


class TransitionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    status: Literal["received", "verified", "rejected", "published", "archived"]
    reason: str = Field(default="", max_length=2000)


class BulkIn(TransitionIn):
    references: list[str] = Field(max_length=500)


class BulkOut(Schema):
    done: list[str]
    skipped: dict[str, str]


class MergeIn(Schema):
    model_config = ConfigDict(extra="forbid")
    sources: list[str] = Field(min_length=1, max_length=50)
    reason: str = Field(default="", max_length=2000)


class EditIn(Schema):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10000)
    categories: list[str] | None = Field(default=None, max_length=5)
    occurred_at: datetime | None = None
    occurred_precision: TimePrecisionT | None = None
    latitude: float | None = None
    longitude: float | None = None
    location_precision: LocationPrecisionT | None = None
    place_name: str | None = Field(default=None, max_length=200)
    sensitive_by_moderator: bool | None = None
    involves_minors: bool | None = None
    killed: int | None = Field(default=None, ge=0, le=10000)
    injured: int | None = Field(default=None, ge=0, le=10000)
    reason: str = Field(default="", max_length=2000)


class CommentIn(Schema):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(max_length=5000)


class Filters(Schema):
    category: list[str] | None = None
    date_from: date | None = None
    date_to: date | None = None
    department: str | None = Field(default=None, max_length=8)
    municipality: str | None = Field(default=None, max_length=32)
    bbox: str | None = Field(default=None, max_length=100)
    page: int = Field(default=1, ge=1, le=10000)
    page_size: int = Field(default=20, ge=1)


class StaffFilters(Filters):
    status: list[str] | None = None
    q: str | None = Field(default=None, max_length=200)


def language() -> str:
    return "en" if (get_language() or "es").startswith("en") else "es"


def category_out(category) -> dict:
    parent = category.parent.slug if category.parent_id and category.parent else None
    return {
        "slug": category.slug,
        "name": category.name(language()),
        "parent": parent,
        "sensitive": category.sensitive,
        "color": category.color,
    }


# Edge length of H3 cells by resolution, in metres (average), for "approximately here".
H3_EDGE_M = {4: 22606, 5: 8544, 6: 3229, 7: 1220, 8: 461, 9: 174, 10: 66}


def occurred_text(report: Report) -> str:
    """The date at its published precision: a month report never shows a day."""
    from django.utils import timezone

    local = timezone.localtime(report.occurred_at)
    if report.occurred_precision == "month":
        return local.strftime("%Y-%m")
    if report.occurred_precision == "day":
        return local.date().isoformat()
    return local.isoformat(timespec="minutes")
