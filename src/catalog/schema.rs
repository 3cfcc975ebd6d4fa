//! JSON Schemas named by checks, compiled once at load so that a bad schema is a load error
//! and not one failure per run. A file path is relative to the scenario file.

use std::path::Path;

use crate::scenario::SchemaSource;

pub fn compile_schema(source: &SchemaSource, file: &Path) -> Result<jsonschema::Validator, String> {
    let (schema, origin) = match source {
        SchemaSource::Inline(schema) => (schema.clone(), "inline json_schema".to_string()),
        SchemaSource::File(path) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(path);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "cannot read json_schema {}: {e}; the path is relative to the scenario file",
                    path.display()
                )
            })?;
            let schema = serde_json::from_str(&text)
                .map_err(|e| format!("json_schema {} is not valid JSON: {e}", path.display()))?;
            (schema, format!("json_schema {}", path.display()))
        }
    };
    jsonschema::validator_for(&schema).map_err(|e| format!("{origin} is not a valid schema: {e}"))
}
