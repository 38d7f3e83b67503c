//! A bundle as one HTTP body: a zip (the predecessor's format) or a reproducible `.tar.gz`,
//! both with the bundle's files, bytes and executable bits, and no timestamps.

use cns_files::FileTree;
use std::io::Write;

/// The bundle as a zip: entries in path order, stored (not deflated), dated 1980-01-01
/// (zip's epoch), mode 0755 or 0644. A bundle is a few dozen small text files: deflating
/// each on its own (level 1) cost ~0.85 ms a request, most of it miniz_oxide resetting its
/// ~300 KB compressor for every entry, for a 14 KB body where stored gives 29 KB. The
/// response is compressed as a whole instead, by [`gzip`], when the client accepts it.
pub(crate) fn zip(tree: &FileTree) -> std::io::Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::with_capacity(
        tree.size() + 128 * tree.files().len() + 64,
    )));
    let base = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (path, e) in tree.files() {
        w.start_file(path.as_str(), base.unix_permissions(e.mode()))
            .map_err(std::io::Error::other)?;
        w.write_all(&e.content)?;
    }
    Ok(w.finish().map_err(std::io::Error::other)?.into_inner())
}

/// A response body for `Content-Encoding: gzip`: level 1 (a 20-file bundle's zip, 29 KB,
/// becomes ~10 KB in ~0.35 ms: smaller than deflating each entry, as the files share most
/// of their text), no file name, modification time 0: the same bytes for the same body.
pub(crate) fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::GzBuilder::new().mtime(0).write(
        Vec::with_capacity(body.len() / 2),
        flate2::Compression::fast(),
    );
    gz.write_all(body)?;
    gz.finish()
}

/// The bundle as the `.tar.gz` `cnsctl push` stores in a registry.
pub(crate) fn tar_gz(tree: &FileTree) -> Result<Vec<u8>, cns_oci::Error> {
    cns_oci::archive::pack(&tree.to_files())
}
