"""The simulated municipality: every source format kanalpuls reads, written with the answers known.

municipality.py is the entry point (`simulate`): it has one writer per source format, as in
connectors/ (phone, walkins, exchange, web, exports, imap, http), write its files over the same
days and for the same (fake) citizens of world.py. calendar.py holds opening hours and demand,
catalogue.py which task and department the municipality means by each queue, service, mailbox,
page and form, and truth.py what each connector should make of the files, counted while they
are written. Ground truth is the world's own: it never asks kanalpuls's mapping rules or keyer,
so a wrong rule or key shows as a difference. Personal data is planted on purpose and recorded
in PlantedData as it is written.

Demand follows weekday x hour: citizens write e-mails, read pages and send forms at any
hour (mornings busiest, a smaller evening bump, weekends and public holidays quieter),
while replies, outbound post, scanned letters and chat happen in office hours on open days.
"""
