"""Spanish templates for the synthetic demo reports (`sereno demo`).

Slots: {lugar} place, {momento} " por la noche" or "" (leading space), {victima} a person
described without a name, {negocio} a business, {vehiculo} a vehicle, {muertos} / {heridos}
counts. Nobody real is named: victims and witnesses are described, never identified.
"""

VICTIMAS = [
    "un hombre de unos 30 años", "un joven de aproximadamente 20 años", "un motorista de taxi",
    "un conductor de bus urbano", "un comerciante de la zona", "un guardia de seguridad",
    "un vendedor ambulante", "un agricultor", "un mecánico", "un hombre de unos 45 años",
    "un repartidor en motocicleta", "un cobrador de bus",
]  # fmt: skip
PERSONAS = [
    "una vecina", "un vecino", "una maestra", "un estudiante", "una trabajadora de maquila",
    "un comerciante", "una vendedora de tortillas", "un pastor evangélico",
    "una enfermera", "un taxista",
]  # fmt: skip
NEGOCIOS = [
    "una pulpería", "una barbería", "una tienda de abarrotes", "un puesto de baleadas",
    "una ferretería", "una farmacia", "un taller mecánico", "una venta de ropa",
    "una distribuidora de gas", "un punto de taxis",
]  # fmt: skip
VEHICULOS = [
    "un bus rapidito", "un taxi", "un mototaxi", "un bus interurbano", "una camioneta",
    "un colectivo",
]  # fmt: skip

MOMENTOS = [
    (0, " en la madrugada"), (6, " por la mañana"), (12, " al mediodía"),
    (14, " por la tarde"), (19, " por la noche"),
]  # fmt: skip

TITLES: dict[str, list[str]] = {
    "homicidio": [
        "Homicidio en {lugar}",
        "Asesinan a un hombre en {lugar}",
        "Encuentran un cuerpo sin vida en {lugar}",
        "Muerte violenta en {lugar}",
        "Matan a balazos a {victima} en {lugar}",
    ],
    "sicariato": [
        "Ataque de sicarios en {lugar}",
        "Sicarios en motocicleta disparan en {lugar}",
        "Asesinato por encargo en {lugar}",
        "Matan a {victima} en {lugar}",
    ],
    "masacre": [
        "Masacre en {lugar}: {muertos} muertos",
        "Matan a {muertos} personas en {lugar}",
        "Ataque armado deja {muertos} víctimas en {lugar}",
    ],
    "extorsion": [
        "Extorsión a {negocio} en {lugar}",
        "Cobran «impuesto de guerra» en {lugar}",
        "Exigen dinero a transportistas en {lugar}",
        "Amenazas por extorsión en {lugar}",
        "Cierra {negocio} por extorsión en {lugar}",
    ],
    "robo-asalto": [
        "Asalto en {vehiculo} en {lugar}",
        "Robo a {negocio} en {lugar}",
        "Asaltan a peatones en {lugar}",
        "Roban motocicleta a punta de pistola en {lugar}",
        "Asalto a mano armada en {lugar}",
    ],
    "violencia-domestica": [
        "Violencia intrafamiliar en {lugar}",
        "Mujer agredida por su pareja en {lugar}",
        "Denuncia de violencia doméstica en {lugar}",
        "Agresión en el hogar en {lugar}",
    ],
    "violencia-sexual": [
        "Agresión sexual en {lugar}",
        "Denuncia de violencia sexual en {lugar}",
        "Acoso y agresión sexual en {lugar}",
    ],
    "desaparicion": [
        "Desaparición en {lugar}",
        "Buscan a {victima} desaparecido en {lugar}",
        "Familia denuncia desaparición en {lugar}",
    ],
    "desplazamiento-forzado": [
        "Familias desplazadas en {lugar}",
        "Familia abandona su casa por amenazas en {lugar}",
        "Desplazamiento forzado en {lugar}",
    ],
    "amenazas": [
        "Amenazas a vecinos en {lugar}",
        "Amenazas de muerte en {lugar}",
        "Dejan mensajes intimidatorios en {lugar}",
        "Amenazan a {persona} en {lugar}",
    ],
    "abuso-policial": [
        "Denuncian abuso policial en {lugar}",
        "Detención arbitraria en {lugar}",
        "Agentes golpean a un joven en {lugar}",
        "Abuso de autoridad en retén de {lugar}",
    ],
    "corrupcion": [
        "Denuncia de corrupción en {lugar}",
        "Cobros indebidos en oficina pública de {lugar}",
        "Piden soborno en trámite en {lugar}",
        "Irregularidades en obra pública de {lugar}",
    ],
}

OPENINGS: dict[str, list[str]] = {
    "homicidio": [
        "Hombres armados dispararon contra {victima}{momento} en {lugar}.",
        "Vecinos encontraron el cuerpo de {victima}{momento} en un solar baldío de {lugar}.",
        "{Victima} murió tras recibir varios disparos{momento} en {lugar}.",
        "Según testigos, {victima} fue atacado{momento} cuando caminaba por {lugar}.",
    ],
    "sicariato": [
        "Dos hombres en una motocicleta dispararon contra {victima}{momento} en {lugar}.",
        "{Victima} fue interceptado por sujetos armados{momento} en {lugar} y murió en el lugar.",
        "Sicarios atacaron a {victima}{momento} frente a {negocio} en {lugar}.",
    ],
    "masacre": [
        "Hombres armados irrumpieron en una vivienda{momento} en {lugar} y mataron a {muertos} "
        "personas.",
        "{muertos} personas murieron en un ataque armado{momento} en {lugar}.",
        "Un grupo armado disparó contra una reunión familiar{momento} en {lugar}; hubo {muertos} "
        "muertos.",
    ],
    "extorsion": [
        "Desde hace semanas cobran una cuota semanal a {negocio} en {lugar}.",
        "Un grupo criminal exige «impuesto de guerra» a los transportistas de {lugar}.",
        "Los dueños de {negocio} en {lugar} recibieron llamadas exigiendo dinero.",
        "Dejaron una nota con un número de teléfono en {negocio} de {lugar} exigiendo pagos.",
    ],
    "robo-asalto": [
        "Dos sujetos armados asaltaron a los pasajeros de {vehiculo}{momento} en {lugar}.",
        "Asaltaron {negocio}{momento} en {lugar} y se llevaron el dinero de la caja.",
        "A {victima} le robaron el teléfono y la billetera{momento} en {lugar}.",
        "Un hombre con pistola robó una motocicleta{momento} en {lugar}.",
    ],
    "violencia-domestica": [
        "Una mujer fue golpeada por su pareja{momento} en su vivienda en {lugar}.",
        "Vecinos escucharon gritos y golpes{momento} en una casa de {lugar}.",
        "Una madre denunció agresiones repetidas de su expareja en {lugar}.",
    ],
    "violencia-sexual": [
        "Una joven denunció haber sido agredida sexualmente{momento} en {lugar}.",
        "Se denuncia una agresión sexual{momento} cerca de una parada de buses en {lugar}.",
        "Una mujer fue abordada y agredida{momento} en un camino de {lugar}.",
    ],
    "desaparicion": [
        "La familia de {victima} no sabe nada de él desde hace días; lo vieron por última "
        "vez en {lugar}.",
        "{Victima} salió de su casa en {lugar} y no ha regresado.",
        "Testigos vieron cuando hombres armados se llevaron a {victima} en {lugar}.",
    ],
    "desplazamiento-forzado": [
        "Varias familias abandonaron sus casas en {lugar} tras amenazas de un grupo criminal.",
        "Una familia de {lugar} tuvo que irse tras recibir un plazo de 24 horas para salir.",
        "Casas abandonadas en {lugar}: los vecinos dicen que los obligaron a irse.",
    ],
    "amenazas": [
        "{Persona} recibió amenazas de muerte por teléfono en {lugar}.",
        "Aparecieron pintas con amenazas en las paredes de {lugar}.",
        "Sujetos armados amenazaron a los vecinos{momento} en {lugar}.",
    ],
    "abuso-policial": [
        "Agentes detuvieron sin explicación a {victima}{momento} en {lugar}.",
        "En un retén de {lugar} agentes golpearon a un joven{momento}.",
        "Vecinos denuncian allanamientos sin orden judicial en {lugar}.",
    ],
    "corrupcion": [
        "Empleados de una oficina pública de {lugar} piden dinero para agilizar trámites.",
        "Vecinos de {lugar} denuncian que una obra pública pagada nunca se terminó.",
        "Piden pagos indebidos para entregar ayudas sociales en {lugar}.",
    ],
}

NO_INJURIES = "No hubo heridos."  # replaced when the report has injured people
DETAILS: dict[str, list[str]] = {
    "lethal": [
        "Los responsables huyeron con rumbo desconocido.",
        "La zona fue acordonada por la policía.",
        "Nadie ha sido detenido.",
        "Peritos de medicina forense llegaron al lugar.",
        "Los vecinos dicen que hay disputa entre grupos en la zona.",
    ],
    "extorsion": [
        "Los que no pagan reciben amenazas.",
        "Varios negocios han cerrado por miedo.",
        "Las víctimas no denuncian por temor a represalias.",
        "El cobro es de unos {monto} lempiras por semana.",
    ],
    "robo-asalto": [
        "Los asaltantes huyeron en motocicleta.",
        NO_INJURIES,
        "Es el segundo asalto en la misma zona este mes.",
        "Iban armados con pistolas.",
    ],
    "sensitive": [
        "La persona afectada pidió no ser identificada.",
        "Se le orientó sobre servicios de apoyo.",
        "Hay menores en la vivienda.",
        "No es la primera vez que ocurre.",
    ],
    "other": [
        "Los vecinos piden presencia de las autoridades.",
        "Se tiene miedo de denunciar.",
        "La situación se repite desde hace meses.",
        "Otras personas conocen lo ocurrido.",
    ],
}

CLOSINGS = [
    "", "Se pide a las autoridades investigar.", "Informa una persona de la comunidad.",
    "Reporte enviado por un vecino.", "", "Se comparte para alertar a la comunidad.",
]  # fmt: skip

CLUSTER_TITLES: dict[str, list[str]] = {
    "extorsion": ["Ola de extorsiones en una colonia de {lugar}",
                  "Otra vez cobran «impuesto de guerra» en {lugar}"],
    "homicidio": ["Nuevo crimen en el mismo sector de {lugar}",
                  "Otro asesinato en la zona de {lugar}"],
    "desplazamiento-forzado": ["Más familias se van de su colonia en {lugar}"],
    "robo-asalto": ["Otro asalto en la misma ruta en {lugar}"],
}  # fmt: skip
