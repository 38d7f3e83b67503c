//! Rebuild when the embedded recipe data changes (include_dir does not track files itself).
fn main() {
    println!("cargo:rerun-if-changed=../../recipes");
    println!("cargo:rerun-if-changed=../../schemas");
}
