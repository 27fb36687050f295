/// Export: the experiment's record in forms other programs read (JSON, W3C PROV, HTML report, archives).
/// Every file is written under a temporary name and renamed into place.
public enum ExportInfo {}
