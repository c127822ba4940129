"""GeoJSON builders and two made-up departments with three municipalities."""


def box(lon1, lat1, lon2, lat2):
    return [[[lon1, lat1], [lon2, lat1], [lon2, lat2], [lon1, lat2], [lon1, lat1]]]


def feature(properties, geometry):
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def polygon(lon1, lat1, lon2, lat2):
    return {"type": "Polygon", "coordinates": box(lon1, lat1, lon2, lat2)}


# Two made-up departments (OCHA-style properties) around Tegucigalpa and San Pedro Sula.
DEPARTMENTS = collection(
    feature(
        {"ADM1_PCODE": "HN08", "ADM1_ES": "Francisco Morazán"}, polygon(-87.5, 13.8, -87.0, 14.3)
    ),
    feature({"ADM1_PCODE": "HN06", "ADM1_ES": "Cortés"}, polygon(-88.3, 15.2, -87.8, 15.7)),
)
# Three municipalities; HN0802 is a MultiPolygon with a small island outside its department.
ISLAND = (-87.60, 14.40, -87.59, 14.41)
MUNICIPALITIES = collection(
    feature(
        {"ADM2_PCODE": "HN0801", "ADM2_ES": "Oeste", "ADM1_PCODE": "HN08", "ADM1_ES": "F. M."},
        polygon(-87.5, 13.8, -87.25, 14.3),
    ),
    feature(
        {"ADM2_PCODE": "HN0802", "ADM2_ES": "Este", "ADM1_PCODE": "HN08", "ADM1_ES": "F. M."},
        {"type": "MultiPolygon", "coordinates": [box(-87.25, 13.8, -87.0, 14.3), box(*ISLAND)]},
    ),
    feature(
        {"ADM2_PCODE": "HN0601", "ADM2_ES": "Sula", "ADM1_PCODE": "HN06", "ADM1_ES": "Cortés"},
        polygon(-88.3, 15.2, -87.8, 15.7),
    ),
)
