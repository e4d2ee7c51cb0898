-- Which raw tables were delivered to this build and what each was read from: one row per table
-- of the raw contract. Models that have a different answer without a table (session metrics are
-- null without sessions) and the run summary read it.

with

source as (
    select * from {{ source('shop', 'inputs') }}
),

renamed as (
    select
        ---------- ids
        source_table,

        ---------- strings
        input_kind,
        described_as,

        ---------- booleans
        is_provided
    from source
)

select * from renamed
