"""The simulated municipality: every source format kanalpuls reads, written with the answers known.

municipality.py is the entry point (`simulate`): it writes the phone queue and ticket-machine
logs itself and has the other writers (exchange, web, exports, imap, http: one module per
source format, as in connectors/) write theirs, over the same days and for the same (fake)
citizens of world.py. calendar.py holds opening hours and demand, truth.py what each
connector should make of the files, counted while they are written. Personal data is
planted on purpose and recorded in PlantedData as it is written.

Demand follows weekday x hour: citizens write e-mails, read pages and send forms at any
hour (mornings busiest, a smaller evening bump, weekends and public holidays quieter),
while replies, outbound post, scanned letters and chat happen in office hours on open days.
"""
