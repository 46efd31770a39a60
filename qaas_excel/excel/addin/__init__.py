"""The QaaS Excel add-in: text sources (customUI14.xml, QaasRibbon.bas) and the .xlam build."""
